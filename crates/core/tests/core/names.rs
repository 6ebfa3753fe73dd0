//! The names of the enums a command line types are their serde names.

use atelier_core::names::Named;

/// Each name is the value's serde name, so a command line, a file and JSON agree.
fn agrees<T: Named + serde::Serialize + std::fmt::Debug + PartialEq>() {
    for value in T::ALL {
        let json = serde_json::to_value(value).expect("serializes");
        assert_eq!(json.as_str(), Some(value.name()), "{value:?}");
        assert_eq!(T::from_name(value.name()), Some(*value));
    }
    assert_eq!(T::from_name("no such value"), None);
}

#[test]
fn names_are_the_serde_names() {
    agrees::<atelier_core::tasks::TaskState>();
    agrees::<atelier_core::catalog::Tier>();
    agrees::<atelier_core::catalog::ShapeKind>();
    agrees::<atelier_core::assets::AssetState>();
    agrees::<atelier_core::providers::WireFormat>();
    agrees::<atelier_core::documents::DocumentKind>();
    agrees::<atelier_core::documents::search::SearchMode>();
    agrees::<atelier_core::documents::projects::HookAction>();
}
