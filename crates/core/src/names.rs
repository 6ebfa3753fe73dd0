//! Enums spelled one way everywhere (files, database, JSON, command lines): each lists its
//! values and their names once (beside the enum), so a front parses and offers them instead
//! of copying them.

/// An enum whose values have fixed names.
pub trait Named: Sized + Copy + 'static {
    /// Every value, in the order a front offers them.
    const ALL: &'static [Self];

    /// The value's name.
    fn name(self) -> &'static str;

    /// The value named `text`.
    fn from_name(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == text)
    }
}
