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
    /// A push would have to wait for room, but waiting would deadlock (the
    /// caller is the session's own worker thread, e.g. a result callback).
    #[error("queue full: {0}")]
    QueueFull(String),
    /// Nothing arrived within the caller's timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The same kind and message (errors are not `Clone`: they may hold an
    /// io::Error). A batch failure reaches every stream in it this way, with
    /// the status the same failure gives on any other path.
    pub fn duplicate(&self) -> Error {
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Io { path, source } => {
                Error::Io { path: path.clone(), source: std::io::Error::new(source.kind(), source.to_string()) }
            }
            Error::BadModel(m) => Error::BadModel(m.clone()),
            Error::Unsupported(m) => Error::Unsupported(m.clone()),
            Error::DeviceUnavailable(m) => Error::DeviceUnavailable(m.clone()),
            Error::Torch(e) => Error::Torch(tch::TchError::Torch(e.to_string())),
            Error::BufferTooSmall(m) => Error::BufferTooSmall(m.clone()),
            Error::Closed(m) => Error::Closed(m.clone()),
            Error::QueueFull(m) => Error::QueueFull(m.clone()),
            Error::Timeout(m) => Error::Timeout(m.clone()),
            Error::Internal(m) => Error::Internal(m.clone()),
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
