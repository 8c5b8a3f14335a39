//! Login, token store and refresh (to be written).
