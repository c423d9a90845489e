//! Status codes of every fallible C call. The numbers are part of the ABI:
//! never renumber or reuse one; add new codes at the end.

use std::ffi::CStr;

use crate::error::Error;

/// Result of every fallible slotrt call. `SLOTRT_STATUS_OK` is 0; any other
/// value is an error and `slotrt_last_error_message()` says what went wrong.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL. The message names it.
    NullArgument = 1,
    /// An argument's value is out of range or inconsistent with the others.
    InvalidArgument = 2,
    /// A struct's `struct_size` field does not match any size this library
    /// knows (too small, or zero because it was not initialised).
    StructSize = 3,
    /// An enum argument or field holds a value this library does not know.
    UnknownEnum = 4,
    /// A caller-owned output buffer is smaller than the result.
    BufferTooSmall = 5,
    /// Reading or writing a file failed.
    Io = 6,
    /// A model file is unreadable, truncated or inconsistent with its config.
    BadModel = 7,
    /// The request is valid but this build or model cannot do it.
    Unsupported = 8,
    /// The requested device (e.g. a CUDA index) is not available.
    DeviceUnavailable = 9,
    /// A stream's queue is full under the BLOCK overflow policy and the
    /// caller is the session's own worker thread (a result callback), where
    /// waiting for room would deadlock: the frame was not queued.
    QueueFull = 10,
    /// A wait ran out of time before a result was ready.
    Timeout = 11,
    /// The object was closed; no further calls are accepted on it.
    Closed = 12,
    /// The header the caller was compiled with is incompatible with this
    /// library (see `slotrt_check_abi`).
    AbiMismatch = 13,
    /// libtorch reported an error (a C++ exception turned into a status).
    Backend = 14,
    /// A Rust panic was caught at the C boundary; the library state touched
    /// by that call should be considered lost (free the handle).
    Panic = 15,
    /// An internal invariant failed; please report it.
    Internal = 16,
}

impl SlotrtStatus {
    /// Every status, for tests and for `slotrt_status_name`.
    pub(crate) const ALL: [SlotrtStatus; 17] = [
        Self::Ok,
        Self::NullArgument,
        Self::InvalidArgument,
        Self::StructSize,
        Self::UnknownEnum,
        Self::BufferTooSmall,
        Self::Io,
        Self::BadModel,
        Self::Unsupported,
        Self::DeviceUnavailable,
        Self::QueueFull,
        Self::Timeout,
        Self::Closed,
        Self::AbiMismatch,
        Self::Backend,
        Self::Panic,
        Self::Internal,
    ];

    /// The C name of the status, e.g. "SLOTRT_STATUS_NULL_ARGUMENT".
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("status names are ASCII")
    }

    /// `name()` as a NUL-terminated static string, for C.
    pub fn c_name(self) -> &'static CStr {
        match self {
            Self::Ok => c"SLOTRT_STATUS_OK",
            Self::NullArgument => c"SLOTRT_STATUS_NULL_ARGUMENT",
            Self::InvalidArgument => c"SLOTRT_STATUS_INVALID_ARGUMENT",
            Self::StructSize => c"SLOTRT_STATUS_STRUCT_SIZE",
            Self::UnknownEnum => c"SLOTRT_STATUS_UNKNOWN_ENUM",
            Self::BufferTooSmall => c"SLOTRT_STATUS_BUFFER_TOO_SMALL",
            Self::Io => c"SLOTRT_STATUS_IO",
            Self::BadModel => c"SLOTRT_STATUS_BAD_MODEL",
            Self::Unsupported => c"SLOTRT_STATUS_UNSUPPORTED",
            Self::DeviceUnavailable => c"SLOTRT_STATUS_DEVICE_UNAVAILABLE",
            Self::QueueFull => c"SLOTRT_STATUS_QUEUE_FULL",
            Self::Timeout => c"SLOTRT_STATUS_TIMEOUT",
            Self::Closed => c"SLOTRT_STATUS_CLOSED",
            Self::AbiMismatch => c"SLOTRT_STATUS_ABI_MISMATCH",
            Self::Backend => c"SLOTRT_STATUS_BACKEND",
            Self::Panic => c"SLOTRT_STATUS_PANIC",
            Self::Internal => c"SLOTRT_STATUS_INTERNAL",
        }
    }

    pub fn from_raw(raw: i32) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as i32 == raw)
    }
}

impl From<&Error> for SlotrtStatus {
    fn from(err: &Error) -> Self {
        match err {
            Error::InvalidArgument(_) => Self::InvalidArgument,
            Error::Io { .. } => Self::Io,
            Error::BadModel(_) => Self::BadModel,
            Error::Unsupported(_) => Self::Unsupported,
            Error::DeviceUnavailable(_) => Self::DeviceUnavailable,
            Error::Torch(_) => Self::Backend,
            Error::BufferTooSmall(_) => Self::BufferTooSmall,
            Error::Closed(_) => Self::Closed,
            Error::QueueFull(_) => Self::QueueFull,
            Error::Timeout(_) => Self::Timeout,
            Error::Internal(_) => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_dense() {
        for (i, s) in SlotrtStatus::ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32, "{}", s.name());
            assert_eq!(SlotrtStatus::from_raw(i as i32), Some(*s));
        }
        assert_eq!(SlotrtStatus::from_raw(-1), None);
        assert_eq!(SlotrtStatus::from_raw(17), None);
    }
}
