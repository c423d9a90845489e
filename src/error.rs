//! The one error type of the Rust API. Each variant maps to one stable C
//! status code in `capi::status`.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller-supplied value is out of range or inconsistent. The message
    /// names the argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model file is unreadable, truncated, or does not match its config.
    #[error("bad model: {0}")]
    BadModel(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("device unavailable: {0}")]
    DeviceUnavailable(String),
    /// An error reported by libtorch (a C++ exception turned into a value).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A caller's output buffer cannot hold the result.
    #[error("buffer too small: {0}")]
    BufferTooSmall(String),
    /// The stream, session or model was closed before or during the call.
    #[error("closed: {0}")]
    Closed(String),
    /// Nothing arrived within the caller's timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
