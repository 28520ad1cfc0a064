//! Results copied out of a guest's memory under a byte budget.
//!
//! The generated bindings copy a returned `list<string>` into host memory as
//! they lift it, and nothing stops a guest from returning a million strings
//! that all point at one 64 MiB buffer: the host would try to allocate 64 TiB.
//! The exports that return text (adapt, render, extract) are therefore called
//! with result types whose strings are [`Text`]: each string's length is
//! charged to the call's budget before it is copied, and lifting stops with
//! [`ResultTooLarge`] once the budget is spent. What a call can make the host
//! hold is then the budget plus the lists' entries (each list is bounded by
//! the guest's memory; its host entries are at most ~3x their guest size).
//!
//! Lifting has to be where the check is: once the call returns, the guest's
//! post-return has freed the strings and its allocator has written over them.

use std::cell::Cell;
use std::fmt;

use wasmtime::AsContextMut;
use wasmtime::ValRaw;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, ComponentType, Instance, Lift, Lower,
    TypedFunc,
};

use super::wit::{WIT_PACKAGE, WitLine};
use super::worlds::PluginKind;

/// No result is larger than this, whatever the plugin's memory limit.
pub const MAX_RESULT_BYTES: usize = 64 << 20;

/// A result that would not fit its budget; `call::describe` names it.
#[derive(Debug)]
pub struct ResultTooLarge {
    pub limit: usize,
}

impl fmt::Display for ResultTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "returned more than {} MiB of results (strings that share memory count once per use)",
            self.limit >> 20
        )
    }
}

impl std::error::Error for ResultTooLarge {}

thread_local! {
    /// Bytes the call running on this thread may still lift, and its limit.
    static BUDGET: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// Run `f` (a call whose results hold [`Text`]) with a budget of
/// min(`memory_bytes`, [`MAX_RESULT_BYTES`]): a guest cannot produce more
/// distinct bytes than its memory holds, so an honest result always fits.
pub fn bounded<R>(memory_bytes: usize, f: impl FnOnce() -> R) -> R {
    let limit = memory_bytes.min(MAX_RESULT_BYTES);
    let before = BUDGET.replace(Some((limit, limit)));
    let result = f();
    BUDGET.set(before);
    result
}

fn charge(bytes: usize) -> wasmtime::Result<()> {
    match BUDGET.get() {
        Some((left, limit)) => match left.checked_sub(bytes) {
            Some(left) => {
                BUDGET.set(Some((left, limit)));
                Ok(())
            }
            None => Err(ResultTooLarge { limit }.into()),
        },
        None => Err(wasmtime::format_err!(
            "a plugin result was lifted outside lift::bounded"
        )),
    }
}

/// A WIT `string` in a result, charged to the call's budget (its length plus
/// the `String` itself) before it is copied.
pub struct Text(pub String);

// SAFETY: every item delegates to `String`'s own implementation; only the
// charge is added in front of the copy.
unsafe impl ComponentType for Text {
    type Lower = <String as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <String as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

unsafe impl Lift for Text {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &[ValRaw; 2],
    ) -> wasmtime::Result<Self> {
        charge(size_of::<String>() + src[1].get_u32() as usize)?;
        String::linear_lift_from_flat(cx, ty, src).map(Text)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        // A string in memory is (pointer, length), two little-endian u32s.
        let len = bytes
            .get(4..8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes);
        charge(size_of::<String>() + len as usize)?;
        String::linear_lift_from_memory(cx, ty, bytes).map(Text)
    }
}

/// Where a function of the plugin's interface is, found once per loaded file.
#[derive(Clone)]
pub struct Export(ComponentExportIndex);

impl Export {
    /// `function` of the interface `kind`'s world exports, in the version
    /// `line`; `None` if the component lacks it (the bindings already refused
    /// such a component).
    pub fn find(
        component: &Component,
        kind: PluginKind,
        line: WitLine,
        function: &str,
    ) -> Option<Export> {
        let interface = format!(
            "{WIT_PACKAGE}/{}@{}",
            kind.interface(),
            line.export_version()
        );
        let interface = component.get_export_index(None, &interface)?;
        component
            .get_export_index(Some(&interface), function)
            .map(Export)
    }

    pub fn typed<P, R>(
        &self,
        instance: &Instance,
        store: impl AsContextMut,
    ) -> wasmtime::Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        instance.get_typed_func::<P, R>(store, &self.0)
    }
}

// The WIT records that hold text, with [`Text`] for `string`; field names
// follow the WIT.

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct BoundedProblem {
    pub id: Text,
    pub question: Text,
    pub answer: Text,
    pub metadata: Vec<(Text, Text)>,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct BoundedChatMessage {
    pub role: Text,
    pub content: Text,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct BoundedExtraction {
    pub answer: Option<Text>,
    pub method: Text,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_of_the_smaller_budget() {
        bounded(1 << 20, || {
            charge(1 << 19).unwrap();
            charge(1 << 19).unwrap();
            let e = charge(1).unwrap_err();
            assert!(e.to_string().contains("more than 1 MiB"), "{e}");
        });
        bounded(1 << 40, || {
            charge(MAX_RESULT_BYTES).unwrap();
            assert!(charge(1).is_err());
        });
    }

    #[test]
    fn text_outside_a_budget_is_an_error() {
        assert!(charge(1).is_err());
    }
}
