//! The bench's floor: a process that does nothing but poll the Runtime API for its first
//! invocation, as soon as it starts. What the bench measures for it is the cost of spawning a
//! process from Python and of the stand-in noticing the poll, which every function's figure
//! includes. Built by bench.py with `rustc -O` (std only); not part of the workspace.

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    let mut stream = TcpStream::connect(&api).expect("the Runtime API accepts");
    stream
        .write_all(
            format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n")
                .as_bytes(),
        )
        .expect("the poll is sent");
    // Wait for an invocation as a function would; the bench kills the process first.
    let _ = stream.read(&mut [0; 1]);
}
