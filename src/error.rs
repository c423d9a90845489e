//! The one error type of the Rust API. Each variant maps to one stable C
//! status code in `capi::status`.

use std::any::Any;
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
            // Same message: TchError's Display would prefix it a second time.
            Error::Torch(tch::TchError::Torch(m)) => Error::Torch(tch::TchError::Torch(m.clone())),
            Error::Torch(e) => Error::Torch(tch::TchError::Torch(e.to_string())),
            Error::BufferTooSmall(m) => Error::BufferTooSmall(m.clone()),
            Error::Closed(m) => Error::Closed(m.clone()),
            Error::QueueFull(m) => Error::QueueFull(m.clone()),
            Error::Timeout(m) => Error::Timeout(m.clone()),
            Error::Internal(m) => Error::Internal(m.clone()),
        }
    }

    /// A panic caught around a model step, as the error every path (worker,
    /// `process`, `step`) reports for it. tch turns a libtorch exception into
    /// a panic in its non-`f_` calls: that stays a libtorch error (status
    /// BACKEND, as through an `f_` call); any other panic is a bug.
    pub(crate) fn from_step_panic(payload: &(dyn Any + Send)) -> Error {
        let message = panic_message(payload);
        match message.strip_prefix(TCH_UNWRAP_PREFIX) {
            Some(torch) => {
                // `Torch("...")`: the Debug form of tch's error.
                let quoted = torch.strip_suffix(')').unwrap_or(torch);
                let text = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or(quoted);
                // Undo the Debug escapes, so it reads as through an `f_` call.
                Error::Torch(tch::TchError::Torch(text.replace("\\n", "\n").replace("\\\"", "\"")))
            }
            None => Error::Internal(format!("the model step panicked: {message}")),
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// How a libtorch exception reads once tch's non-`f_` call unwrapped it.
const TCH_UNWRAP_PREFIX: &str = "called `Result::unwrap()` on an `Err` value: Torch(";

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_libtorch_exception_unwrapped_by_tch_stays_a_libtorch_error() {
        let a = tch::Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
        let b = tch::Tensor::zeros([4, 5], (tch::Kind::Float, tch::Device::Cpu));
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.matmul(&b))).unwrap_err();
        let err = Error::from_step_panic(payload.as_ref());
        assert!(matches!(err, Error::Torch(_)), "{err:?}");
        assert!(err.to_string().starts_with("libtorch: ") && err.to_string().contains("mat1 and mat2"), "{err}");
        assert_eq!(err.duplicate().to_string(), err.to_string(), "a duplicate reads the same");
        let payload = std::panic::catch_unwind(|| panic!("index out of range")).unwrap_err();
        let err = Error::from_step_panic(payload.as_ref());
        assert!(matches!(&err, Error::Internal(m) if m.ends_with("panicked: index out of range")), "{err:?}");
    }
}
