//! The actix-web app (to be written).
