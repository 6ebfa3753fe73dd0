//! The task state machine of seed 001, plus `cancelled`: a pure table of allowed moves.

use crate::names::Named;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Created, not yet taken up.
    Pending,
    /// Assigned and ready to be worked on.
    Active,
    /// Being worked on.
    InProgress,
    /// Paused on something outside the task.
    Blocked,
    /// Done.
    Completed,
    /// Ended in error; `reset` returns it to pending.
    Failed,
    /// Abandoned.
    Cancelled,
}

impl TaskState {
    /// Every state, in life order.
    pub const ALL: [TaskState; 7] = [
        TaskState::Pending,
        TaskState::Active,
        TaskState::InProgress,
        TaskState::Blocked,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    /// The stable snake_case name stored in the database.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Active => "active",
            TaskState::InProgress => "in_progress",
            TaskState::Blocked => "blocked",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Whether the task still needs doing (a parent with such a child cannot complete).
    pub fn is_open(self) -> bool {
        !matches!(self, TaskState::Completed | TaskState::Cancelled)
    }

    /// Whether a task in this state is waiting to be started (a candidate for `next`).
    pub fn is_startable(self) -> bool {
        matches!(self, TaskState::Pending | TaskState::Active)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TaskState {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or(())
    }
}

/// A request to move a task to another state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum TaskAction {
    /// pending → active ("assigned" in seed 001).
    Activate,
    /// active → in_progress.
    Start,
    /// in_progress → blocked.
    Block,
    /// blocked → in_progress.
    Unblock,
    /// in_progress → completed.
    Complete,
    /// in_progress → failed.
    Fail,
    /// failed → pending.
    Reset,
    /// any open state → cancelled.
    Cancel,
}

impl TaskAction {
    /// Every action.
    pub const ALL: [TaskAction; 8] = [
        TaskAction::Activate,
        TaskAction::Start,
        TaskAction::Block,
        TaskAction::Unblock,
        TaskAction::Complete,
        TaskAction::Fail,
        TaskAction::Reset,
        TaskAction::Cancel,
    ];

    /// The stable name, as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TaskAction::Activate => "activate",
            TaskAction::Start => "start",
            TaskAction::Block => "block",
            TaskAction::Unblock => "unblock",
            TaskAction::Complete => "complete",
            TaskAction::Fail => "fail",
            TaskAction::Reset => "reset",
            TaskAction::Cancel => "cancel",
        }
    }

    /// The state this action leads to from `from`, or `None` if the machine forbids it.
    pub fn apply(self, from: TaskState) -> Option<TaskState> {
        use TaskAction as A;
        use TaskState as S;
        match (self, from) {
            (A::Activate, S::Pending) => Some(S::Active),
            (A::Start, S::Active) => Some(S::InProgress),
            (A::Block, S::InProgress) => Some(S::Blocked),
            (A::Unblock, S::Blocked) => Some(S::InProgress),
            (A::Complete, S::InProgress) => Some(S::Completed),
            (A::Fail, S::InProgress) => Some(S::Failed),
            (A::Reset, S::Failed) => Some(S::Pending),
            (A::Cancel, s) if s.is_open() => Some(S::Cancelled),
            _ => None,
        }
    }

    /// The actions allowed from `state`, for error messages and UIs.
    pub fn allowed_from(state: TaskState) -> Vec<TaskAction> {
        TaskAction::ALL
            .into_iter()
            .filter(|a| a.apply(state).is_some())
            .collect()
    }
}

impl fmt::Display for TaskAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Named for TaskState {
    const ALL: &'static [Self] = &TaskState::ALL;
    fn name(self) -> &'static str {
        TaskState::name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskAction as A;
    use TaskState as S;

    /// The whole machine, written out once by hand from seed 001 (plus cancel): every
    /// (state, action) pair not listed here must be refused.
    const ALLOWED: &[(TaskState, TaskAction, TaskState)] = &[
        (S::Pending, A::Activate, S::Active),
        (S::Active, A::Start, S::InProgress),
        (S::InProgress, A::Block, S::Blocked),
        (S::Blocked, A::Unblock, S::InProgress),
        (S::InProgress, A::Complete, S::Completed),
        (S::InProgress, A::Fail, S::Failed),
        (S::Failed, A::Reset, S::Pending),
        (S::Pending, A::Cancel, S::Cancelled),
        (S::Active, A::Cancel, S::Cancelled),
        (S::InProgress, A::Cancel, S::Cancelled),
        (S::Blocked, A::Cancel, S::Cancelled),
        (S::Failed, A::Cancel, S::Cancelled),
    ];

    #[test]
    fn every_state_action_pair_matches_the_written_table() {
        let mut checked = 0;
        for state in TaskState::ALL {
            for action in TaskAction::ALL {
                let expected = ALLOWED
                    .iter()
                    .find(|(s, a, _)| *s == state && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(action.apply(state), expected, "{state} --{action}-->");
                checked += 1;
            }
        }
        assert_eq!(checked, 56);
    }

    #[test]
    fn terminal_states_allow_nothing() {
        assert!(TaskAction::allowed_from(S::Completed).is_empty());
        assert!(TaskAction::allowed_from(S::Cancelled).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for s in TaskState::ALL {
            assert_eq!(s.name().parse::<TaskState>(), Ok(s));
        }
    }
}
