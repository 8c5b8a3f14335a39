//! A small mock Codex backend for the benchmark, on 127.0.0.1 in a thread of
//! its own: every `POST /backend-api/codex/responses` whose body is a
//! streaming Responses request gets the workload's reply, one event per
//! write (the body stream yields between events, so each goes out in its own
//! chunk, as the real backend sends them), with no artificial delay and
//! with `TCP_NODELAY`, so that Nagle's algorithm holds nothing back.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

/// The reply frames, shared by every request.
struct Reply(Arc<Vec<Bytes>>);

/// A running mock upstream; [`Upstream::stop`] ends it.
pub struct Upstream {
    /// What codexd's `CODEX_BASE_URL` must be.
    pub base_url: String,
    /// The full URL of the responses endpoint, for direct fetches.
    pub responses_url: String,
    /// The id of the worker thread that answers requests (see `placement`),
    /// set when the worker starts.
    worker: Arc<AtomicI32>,
    handle: ServerHandle,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Upstream {
    /// Start the mock with one worker thread.
    pub fn start(reply: Vec<Bytes>) -> Result<Self, String> {
        let reply = Arc::new(reply);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(SocketAddr, ServerHandle), String>>();
        let worker = Arc::new(AtomicI32::new(0));
        let worker_slot = worker.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    // The app is built on the worker thread itself.
                    worker_slot.store(crate::placement::thread_id(), Ordering::SeqCst);
                    App::new()
                        .app_data(web::Data::new(Reply(reply.clone())))
                        .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                        .route("/backend-api/codex/responses", web::post().to(responses))
                })
                .workers(1)
                .tcp_nodelay(true)
                .disable_signals()
                .bind(("127.0.0.1", 0));
                let server = match server {
                    Ok(server) => server,
                    Err(err) => {
                        let _ = ready_tx.send(Err(format!("mock upstream cannot bind: {err}")));
                        return Ok(());
                    }
                };
                let addr = server.addrs()[0];
                let running = server.run();
                let _ = ready_tx.send(Ok((addr, running.handle())));
                running.await
            })
        });
        let (addr, handle) = ready_rx.recv().map_err(|_| "the mock upstream thread died".to_owned())??;
        let base_url = format!("http://{addr}/backend-api");
        Ok(Upstream { responses_url: format!("{base_url}/codex/responses"), base_url, worker, handle, thread })
    }

    /// The id of the thread that answers requests, once it has started.
    pub fn worker_thread(&self) -> Result<i32, String> {
        match self.worker.load(Ordering::SeqCst) {
            0 => Err("the mock upstream's worker has not started".to_owned()),
            id => Ok(id),
        }
    }

    /// Stop the server and wait for its thread.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.thread.join();
    }
}

async fn responses(body: Bytes, reply: web::Data<Reply>) -> HttpResponse {
    let streaming = serde_json::from_slice::<Value>(&body).is_ok_and(|request| request["stream"] == Value::Bool(true));
    if !streaming {
        return HttpResponse::BadRequest().json(serde_json::json!({"detail": "Stream must be set to true"}));
    }
    let frames = reply.0.clone();
    let body = stream::iter(0..frames.len()).then(move |index| {
        let frame = frames[index].clone();
        async move {
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(frame)
        }
    });
    HttpResponse::Ok().content_type("text/event-stream").streaming(body)
}
