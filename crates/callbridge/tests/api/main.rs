//! End-to-end tests over real HTTP and the real binary; one test binary, one module per area.

mod cli;
mod helpers;
mod ops;
