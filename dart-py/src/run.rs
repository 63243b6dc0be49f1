//! The one way long calls release the GIL, and Python progress callbacks.
//!
//! [`detached`] runs a core call with the GIL released under a
//! [`Control`] whose progress sink re-acquires the GIL for each report. The
//! sink checks for pending signals (so Ctrl-C is seen while the core works)
//! and calls the user's callback; if either raises, it cancels the call
//! through the control's [`CancelToken`]. The core then stops, removes its
//! partial output and returns its `Cancelled` error.
//!
//! What the caller sees:
//! * the callback raised: `CancelledError`, with the callback's exception as
//!   its `__cause__`;
//! * Ctrl-C (`KeyboardInterrupt`): the `KeyboardInterrupt` itself, so that a
//!   script stops as it would anywhere else;
//! * either, after the core had already finished: that exception, as raised.

use std::sync::{Arc, Mutex};

use dart_core::progress::{CancelToken, Control, Phase, Progress};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError};
use pyo3::prelude::*;

use crate::error;

/// A progress sink that reports to a Python callable and watches for signals.
struct PySink {
    /// `callback(phase: str, item: str, done: int, total: int)`, if any.
    callback: Option<Py<PyAny>>,
    /// The token of the call's control, cancelled when Python raises.
    cancel: CancelToken,
    /// The first exception raised by the callback or a signal handler.
    raised: Mutex<Option<PyErr>>,
}

impl Progress for PySink {
    fn report(&self, phase: Phase, item: &str, done: u64, total: u64) {
        if self.cancel.is_cancelled() {
            return;
        }
        Python::attach(|py| {
            let outcome = py.check_signals().and_then(|()| match &self.callback {
                Some(callback) => callback
                    .call1(py, (phase.name(), item, done, total))
                    .map(drop),
                None => Ok(()),
            });
            if let Err(err) = outcome {
                if let Ok(mut slot) = self.raised.lock() {
                    slot.get_or_insert(err);
                }
                self.cancel.cancel();
            }
        });
    }
}

/// Runs `call` with the GIL released, reporting progress to `progress` and
/// converting its result or error (see the module documentation).
pub(crate) fn detached<T, F>(py: Python<'_>, progress: Option<Py<PyAny>>, call: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Control) -> dart_core::Result<T> + Send,
{
    if let Some(callback) = &progress {
        if !callback.bind(py).is_callable() {
            return Err(PyTypeError::new_err(
                "progress must be a callable (phase, item, done, total) or None",
            ));
        }
    }
    let cancel = CancelToken::new();
    let sink = Arc::new(PySink {
        callback: progress,
        cancel: cancel.clone(),
        raised: Mutex::new(None),
    });
    let control = Control {
        progress: Arc::clone(&sink) as Arc<dyn Progress>,
        cancel,
    };
    let result = py.detach(|| call(&control));
    drop(control);
    let raised = sink.raised.lock().ok().and_then(|mut slot| slot.take());
    match (result, raised) {
        (Ok(value), None) => Ok(value),
        (Ok(_), Some(raised)) => Err(raised),
        (Err(_), Some(raised)) if raised.is_instance_of::<PyKeyboardInterrupt>(py) => Err(raised),
        (Err(e), raised) => {
            let err = error::to_py(e);
            err.set_cause(py, raised);
            Err(err)
        }
    }
}
