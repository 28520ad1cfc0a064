//! A local address where connections are refused, held for as long as the
//! value lives.
//!
//! Binding a listener to port 0 and dropping it frees the port again, and a
//! test server started meanwhile (in this process or another) may be given
//! the same port: a "dead" endpoint then reaches a live server and a request
//! lands where another test counts it. A socket that is bound but never
//! listens keeps the port taken (no SO_REUSEADDR) while connecting to it is
//! refused.

use std::net::SocketAddr;

pub struct DeadPort {
    _socket: tokio::net::TcpSocket,
    pub addr: SocketAddr,
}

impl DeadPort {
    pub fn new() -> DeadPort {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind("127.0.0.1:0".parse().unwrap())
            .expect("binding 127.0.0.1:0");
        let addr = socket.local_addr().expect("the bound address");
        DeadPort {
            _socket: socket,
            addr,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}
