//! The REST resources, each with its parameters, response type and `Client` methods.

pub mod applications;
pub mod calls;
pub mod common;
pub mod conferences;
pub mod keys;
pub mod participants;
pub mod recordings;
pub mod services;
pub mod sync;
pub mod verify;
