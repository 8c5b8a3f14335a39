//! Noticing a client that hangs up before its answer begins.
//!
//! actix-web goes on running a handler whose client has closed its
//! connection: nothing is written to the socket before the answer, so
//! nothing fails. Until a stream commits, and for the whole of a
//! non-streaming answer, codexd would keep the upstream request (and its
//! place among the concurrent ones) for nobody. So each connection's socket
//! is remembered when it is accepted ([`remember_socket`]), and a request
//! whose body has been read races its handling against [`hung_up`]: the
//! client's end of the connection closing. The loser is dropped, and with
//! it the upstream request. Once a stream is committed, its writes notice a
//! hang-up instead (see `stream`).
//!
//! A client that half-closes its connection after sending a request (rare:
//! no HTTP client library does) counts as gone.

use std::future::pending;
use std::net::TcpStream as StdTcpStream;
use std::os::fd::AsFd;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

/// A second handle on a connection's socket, to watch it.
struct PeerSocket(StdTcpStream);

/// `HttpServer::on_connect`: keep a handle on each TCP connection's socket.
pub(super) fn remember_socket(conn: &dyn std::any::Any, extensions: &mut Extensions) {
    let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() else { return };
    if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
        extensions.insert(PeerSocket(StdTcpStream::from(fd)));
    }
}

/// Resolves once the client has closed its connection (or it broke);
/// never, when that cannot be watched or the client sent more (a pipelined
/// request: it is still there). Call it once the request body is read.
pub(super) async fn hung_up(req: &HttpRequest) {
    let watch = req
        .conn_data::<PeerSocket>()
        .and_then(|socket| socket.0.try_clone().ok())
        .and_then(|socket| socket.set_nonblocking(true).ok().map(|()| socket))
        .and_then(|socket| actix_web::rt::net::TcpStream::from_std(socket).ok());
    let Some(watch) = watch else { return pending().await };
    let mut byte = [0u8; 1];
    loop {
        match watch.peek(&mut byte).await {
            Ok(0) => return,
            Ok(_) => return pending().await,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}
