//! The panic boundary every export goes through, the thread-local last
//! error, and argument checks that turn bad pointers into statuses.

use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{self, AssertUnwindSafe};

use super::status::SlotrtStatus;
use crate::error::{panic_message, Error};

/// An error on its way to the C caller: a status plus a message.
#[derive(Debug)]
pub(crate) struct CallError {
    pub status: SlotrtStatus,
    pub message: String,
}

pub(crate) type CallResult<T = ()> = Result<T, CallError>;

impl CallError {
    pub fn new(status: SlotrtStatus, message: impl Into<String>) -> Self {
        CallError { status, message: message.into() }
    }
}

impl From<Error> for CallError {
    fn from(err: Error) -> Self {
        CallError { status: SlotrtStatus::from(&err), message: without_torch_backtrace(&err.to_string()) }
    }
}

/// libtorch appends a C++ stack trace to its messages; callers want the
/// first line of reason, not 30 frames of addresses.
fn without_torch_backtrace(message: &str) -> String {
    // Panics show the error with Debug escaping, so the newline may be "\\n".
    match message.find("Exception raised from") {
        Some(end) => {
            let head = &message[..end];
            head.strip_suffix("\\n").or_else(|| head.strip_suffix('\n')).unwrap_or(head).to_owned()
        }
        None => message.to_owned(),
    }
}

/// Messages longer than this are truncated (at a UTF-8 boundary).
const MESSAGE_CAPACITY: usize = 1024;

struct LastError {
    status: SlotrtStatus,
    /// NUL-terminated; lives as long as the thread, so the pointer handed
    /// out by `slotrt_last_error_message` never dangles.
    message: [u8; MESSAGE_CAPACITY],
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError { status: SlotrtStatus::Ok, message: [0; MESSAGE_CAPACITY] })
    };
}

fn set_last_error(status: SlotrtStatus, message: &str) {
    let mut end = message.len().min(MESSAGE_CAPACITY - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    // Interior NULs would cut the C string short; show them as spaces.
    let _ = LAST_ERROR.try_with(|cell| {
        let mut last = cell.borrow_mut();
        last.status = status;
        for (dst, src) in last.message.iter_mut().zip(message[..end].bytes()) {
            *dst = if src == 0 { b' ' } else { src };
        }
        last.message[end] = 0;
    });
}

pub(crate) fn last_error_message_ptr() -> *const c_char {
    LAST_ERROR.try_with(|cell| cell.borrow().message.as_ptr() as *const c_char).unwrap_or(c"thread is exiting".as_ptr())
}

pub(crate) fn last_error_status() -> SlotrtStatus {
    LAST_ERROR.try_with(|cell| cell.borrow().status).unwrap_or(SlotrtStatus::Internal)
}

/// Runs the body of the export `func`: a returned error or a panic (tch
/// panics on libtorch exceptions) becomes a status and the thread's last
/// error; success clears the last error.
pub(crate) fn guard(func: &str, body: impl FnOnce() -> CallResult) -> SlotrtStatus {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error(SlotrtStatus::Ok, "");
            SlotrtStatus::Ok
        }
        Ok(Err(err)) => {
            set_last_error(err.status, &format!("{func}: {}", err.message));
            err.status
        }
        Err(payload) => {
            let msg = format!("{func}: panic: {}", panic_message(payload.as_ref()));
            set_last_error(SlotrtStatus::Panic, &without_torch_backtrace(&msg));
            SlotrtStatus::Panic
        }
    }
}

/// For the few exports that return a plain value instead of a status: a
/// panic yields `fallback` and sets the last error.
pub(crate) fn guard_value<T>(func: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let msg = format!("{func}: panic: {}", panic_message(payload.as_ref()));
            set_last_error(SlotrtStatus::Panic, &msg);
            fallback
        }
    }
}

fn null_argument(name: &str) -> CallError {
    CallError::new(SlotrtStatus::NullArgument, format!("argument `{name}` is NULL"))
}

/// # Safety
/// `ptr` must be NULL or point to a valid `T` for the duration of the call.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &str) -> CallResult<&'a T> {
    unsafe { ptr.as_ref() }.ok_or_else(|| null_argument(name))
}

/// # Safety
/// `ptr` must be NULL or point to a valid, writable `T`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> CallResult<&'a mut T> {
    unsafe { ptr.as_mut() }.ok_or_else(|| null_argument(name))
}

/// An input array of `len` elements; NULL is accepted only when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` readable elements.
pub(crate) unsafe fn arg_slice<'a, T>(ptr: *const T, len: usize, name: &str) -> CallResult<&'a [T]> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(null_argument(name)) };
    }
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller-owned output buffer of `capacity` elements that must hold `needed`.
///
/// # Safety
/// A non-NULL `ptr` must point to `capacity` writable elements.
pub(crate) unsafe fn out_buffer<'a, T>(
    ptr: *mut T,
    capacity: usize,
    needed: usize,
    name: &str,
) -> CallResult<&'a mut [T]> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    if capacity < needed {
        return Err(CallError::new(
            SlotrtStatus::BufferTooSmall,
            format!("buffer `{name}` holds {capacity} elements, {needed} are needed"),
        ));
    }
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, needed) })
}

/// Checks a struct's leading `struct_size` field against the size this
/// library was built with.
pub(crate) fn check_struct_size(got: u32, expected: usize, name: &str) -> CallResult {
    if got as usize == expected {
        return Ok(());
    }
    let why = if got == 0 {
        "is 0: initialise the struct with its *_init function or set struct_size = sizeof".to_owned()
    } else if (got as usize) < expected {
        format!("is {got}, smaller than this library's {expected}")
    } else {
        format!("is {got}, from a newer header than this library (size {expected})")
    };
    Err(CallError::new(SlotrtStatus::StructSize, format!("`{name}->struct_size` {why}")))
}

pub(crate) fn unknown_enum(name: &str, value: impl std::fmt::Display, type_name: &str) -> CallError {
    CallError::new(SlotrtStatus::UnknownEnum, format!("`{name}` = {value} is not a {type_name} value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_message() -> String {
        unsafe { CStr::from_ptr(last_error_message_ptr()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        let status = guard("slotrt_test", || panic!("boom {}", 42));
        assert_eq!(status, SlotrtStatus::Panic);
        assert_eq!(last_error_status(), SlotrtStatus::Panic);
        assert_eq!(last_message(), "slotrt_test: panic: boom 42");
        // Success clears it; the pointer stays valid.
        let ptr = last_error_message_ptr();
        assert_eq!(guard("slotrt_test", || Ok(())), SlotrtStatus::Ok);
        assert_eq!(unsafe { CStr::from_ptr(ptr) }.to_bytes(), b"");
    }

    #[test]
    fn libtorch_exceptions_do_not_escape() {
        // A shape mismatch throws in C++; tch turns it into a panic (plain
        // API) or an Err (f_ API). Both must end as statuses.
        let a = tch::Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
        let b = tch::Tensor::zeros([4, 5], (tch::Kind::Float, tch::Device::Cpu));
        let status = guard("slotrt_test", || {
            let _product = a.matmul(&b);
            Ok(())
        });
        assert_eq!(status, SlotrtStatus::Panic);
        assert!(last_message().contains("mat1 and mat2"), "{}", last_message());
        assert!(!last_message().contains("Exception raised from"), "{}", last_message());
        let status = guard("slotrt_test", || {
            let _product = a.f_matmul(&b).map_err(Error::from)?;
            Ok(())
        });
        assert_eq!(status, SlotrtStatus::Backend);
        assert!(last_message().starts_with("slotrt_test: libtorch:"), "{}", last_message());
    }

    #[test]
    fn long_and_odd_messages_are_truncated_safely() {
        let long = "é".repeat(2000) + "\0tail";
        guard("f", || Err(CallError::new(SlotrtStatus::Internal, long.clone())));
        let msg = last_message();
        assert!(msg.len() < MESSAGE_CAPACITY && msg.starts_with("f: é"));
    }

    #[test]
    fn last_error_is_per_thread() {
        guard("main_thread", || Err(CallError::new(SlotrtStatus::Timeout, "x")));
        std::thread::spawn(|| assert_eq!(last_error_status(), SlotrtStatus::Ok)).join().unwrap();
        assert_eq!(last_error_status(), SlotrtStatus::Timeout);
    }

    #[test]
    fn argument_checks_name_the_argument() {
        let err = unsafe { arg_ref::<u32>(std::ptr::null(), "options") }.unwrap_err();
        assert_eq!(err.status, SlotrtStatus::NullArgument);
        assert!(err.message.contains("`options`"));
        let mut buf = [0u8; 4];
        let err = unsafe { out_buffer(buf.as_mut_ptr(), 4, 5, "rgb") }.unwrap_err();
        assert_eq!(err.status, SlotrtStatus::BufferTooSmall);
        assert!(unsafe { arg_slice::<i32>(std::ptr::null(), 0, "x") }.unwrap().is_empty());
        assert_eq!(check_struct_size(0, 8, "o").unwrap_err().status, SlotrtStatus::StructSize);
        assert!(check_struct_size(8, 8, "o").is_ok());
    }
}
