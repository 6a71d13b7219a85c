//! Why a set of OpenAPI documents could not be loaded.

use std::path::PathBuf;

/// A document could not be read or is not a usable OpenAPI 3 document.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{name} is not JSON: {source}")]
    Json {
        /// The document's name (its file path when loaded from disk).
        name: String,
        /// Where parsing stopped.
        source: serde_json::Error,
    },
    /// The JSON is not an OpenAPI 3 document, or uses a construct this checker cannot route.
    #[error("{name} is not a usable OpenAPI 3 document: {reason}")]
    Invalid {
        /// The document's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two documents declare the same operation, so a request could not be attributed to one.
    #[error("{method} {template} is declared by both {first} and {second}")]
    Collision {
        /// HTTP method.
        method: String,
        /// The path template.
        template: String,
        /// The document declaring it first.
        first: String,
        /// The document declaring it again.
        second: String,
    },
}

/// Result of loading documents.
pub type Result<T, E = Error> = std::result::Result<T, E>;
