//! The desktop crate's one integration-test binary: generated bindings, the capability file,
//! the CSP, and the app's hold on its vault.

mod bindings;
mod security;
mod vault;
