//! Test machinery beyond one app: a cluster of instances, and a TCP proxy to break things with.

pub mod cluster;
pub mod tcp_proxy;
