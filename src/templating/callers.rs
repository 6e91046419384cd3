//! Macros handed from one template to a macro of another: `{% call pkg.m() %}` hands `m` its
//! `caller`, and a template may pass a macro it defines as an argument. minijinja calls such a
//! macro only with the template state that defined it, and Mallard runs each macro of a macro
//! file in a state of its own (see [`super::macros::call_macro`]): so the macro is handed over
//! wrapped ([`HandedMacro`]), and the wrapper calls it back with the state that defined it,
//! which is alive for exactly as long as the call that handed it over.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

thread_local! {
    /// The states of this thread's macro calls that handed a macro over, innermost last, each
    /// with a number no other call on this thread has had.
    static STATES: RefCell<Vec<(u64, *const ())>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// A call that handed macros over: its state is reachable by [`HandedMacro`]s until this is
/// dropped (at the end of the call, also when it fails or unwinds).
pub(super) struct HandOver(u64);

impl Drop for HandOver {
    fn drop(&mut self) {
        STATES.with(|s| s.borrow_mut().retain(|(id, _)| *id != self.0));
    }
}

/// Whether `v` is a macro defined by a template (minijinja's own macro object), which only its
/// defining state can call.
fn is_template_macro(v: &Value) -> bool {
    // minijinja's macro object has `name`, `arguments` and `caller`, and prints as `<macro>`.
    v.as_object().is_some()
        && v.get_attr("caller").is_ok_and(|c| c.kind() == ValueKind::Bool)
        && v.get_attr("arguments").is_ok_and(|a| a.kind() == ValueKind::Seq)
        && format!("{v:?}").starts_with("<macro ")
}

/// `args` of a call made from `state`, with every template macro among them (positional, or a
/// keyword argument such as `caller`) wrapped so that another state can call it; the guard
/// keeps `state` reachable for the wrappers. `None` when no argument is a template macro.
pub(super) fn hand_over(state: &State, args: &[Value]) -> Option<(HandOver, Vec<Value>)> {
    let kwargs_hold_macro = |v: &Value| {
        v.is_kwargs()
            && Kwargs::try_from(v.clone()).is_ok_and(|k| {
                k.args()
                    .any(|a| k.peek::<Value>(a).is_ok_and(|v| is_template_macro(&v)))
            })
    };
    if !args.iter().any(|v| is_template_macro(v) || kwargs_hold_macro(v)) {
        return None;
    }
    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let state_ptr = state as *const State<'_, '_> as *const ();
    STATES.with(|s| s.borrow_mut().push((id, state_ptr)));
    let wrap = |v: Value| {
        if is_template_macro(&v) {
            Value::from_object(HandedMacro { inner: v, state: id })
        } else {
            v
        }
    };
    let args = args
        .iter()
        .map(|v| match Kwargs::try_from(v.clone()) {
            Ok(kwargs) if v.is_kwargs() => Value::from(
                kwargs
                    .args()
                    .map(|k| (k.to_string(), wrap(kwargs.peek::<Value>(k).unwrap_or_default())))
                    .collect::<Kwargs>(),
            ),
            _ => wrap(v.clone()),
        })
        .collect();
    Some((HandOver(id), args))
}

/// A template macro handed to a macro of another template (see [`hand_over`]).
#[derive(Debug)]
pub(super) struct HandedMacro {
    inner: Value,
    /// The number of the call whose state defined the macro.
    state: u64,
}

impl Object for HandedMacro {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let Some(ptr) = STATES.with(|s| {
            s.borrow()
                .iter()
                .find(|(id, _)| *id == self.state)
                .map(|(_, p)| *p)
        }) else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "a macro handed to another macro was called after that call ended",
            ));
        };
        // SAFETY: `ptr` is the `&State` of a call still on this thread's stack: its entry is
        // removed (by `HandOver`'s drop) before that call returns or unwinds, and entries are
        // per thread. The state is only borrowed for this call, within that call's lifetime.
        let state: &State<'_, '_> = unsafe { &*(ptr as *const State<'_, '_>) };
        self.inner.call(state, args)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.inner)
    }
}
