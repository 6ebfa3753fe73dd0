//! The critical path of a task subtree: the chain of work that decides when its root can finish.
//!
//! Each task has a start and a finish event. Work joins a leaf's start to its finish; a task
//! starts after each of its dependencies finishes; a child starts no earlier than its parent
//! (the scheduler starts a container before its children) and a container finishes no earlier
//! than each child (it completes when they have closed). The earliest time of every event is
//! the longest path to it, and the critical path is the longest path to the root's finish.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One task as the schedule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The task.
    pub id: i64,
    /// Its parent, when the parent is in the plan.
    pub parent: Option<i64>,
    /// The tasks it waits on, in the plan or not (those outside are ignored).
    pub depends_on: Vec<i64>,
    /// How long its own work takes, in ms; 0 for a container, whose span is its children's.
    pub work_ms: i64,
}

/// When each task can start and finish, and which chain decides the root's finish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Earliest start and finish by task, ms from the plan's start.
    pub times: BTreeMap<i64, (i64, i64)>,
    /// The tasks whose work lies on the critical path, in order.
    pub critical_path: Vec<i64>,
    /// Every task one of whose events lies on the critical path (containers included).
    pub on_path: BTreeSet<i64>,
    /// Dependency edges `(dependency, dependent)` the critical path follows.
    pub critical_edges: BTreeSet<(i64, i64)>,
    /// The root's earliest finish: the critical path's length.
    pub length_ms: i64,
    /// Tasks that can never start: they wait, through their dependencies or hierarchy, on
    /// themselves (a child waiting on its own parent, say).
    pub stuck: Vec<i64>,
}

/// An event: a task starting (`finish == false`) or finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    task: usize,
    finish: bool,
}

impl Event {
    fn index(self) -> usize {
        self.task * 2 + usize::from(self.finish)
    }
}

/// Schedules `spans` towards `root`'s finish.
pub fn schedule(spans: &[Span], root: i64) -> Schedule {
    let slot: BTreeMap<i64, usize> = spans.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let events = spans.len() * 2;
    // Edges out of each event: (to, weight).
    let mut out: Vec<Vec<(usize, i64)>> = vec![Vec::new(); events];
    let mut incoming = vec![0_usize; events];
    let mut edge = |from: Event, to: Event, weight: i64| {
        out[from.index()].push((to.index(), weight));
        incoming[to.index()] += 1;
    };
    for (i, span) in spans.iter().enumerate() {
        let start = Event {
            task: i,
            finish: false,
        };
        let finish = Event {
            task: i,
            finish: true,
        };
        edge(start, finish, span.work_ms.max(0));
        for dependency in span.depends_on.iter().filter_map(|d| slot.get(d)) {
            edge(
                Event {
                    task: *dependency,
                    finish: true,
                },
                start,
                0,
            );
        }
        if let Some(parent) = span.parent.and_then(|p| slot.get(&p)) {
            edge(
                Event {
                    task: *parent,
                    finish: false,
                },
                start,
                0,
            );
            edge(
                finish,
                Event {
                    task: *parent,
                    finish: true,
                },
                0,
            );
        }
    }

    // Longest paths in topological order (Kahn); events left unvisited lie on a cycle.
    let mut time = vec![0_i64; events];
    let mut before: Vec<Option<usize>> = vec![None; events];
    let mut visited = vec![false; events];
    let mut queue: VecDeque<usize> = (0..events).filter(|e| incoming[*e] == 0).collect();
    while let Some(event) = queue.pop_front() {
        visited[event] = true;
        for (to, weight) in &out[event] {
            let reached = time[event] + weight;
            if before[*to].is_none() || reached > time[*to] {
                time[*to] = reached;
                before[*to] = Some(event);
            }
            incoming[*to] -= 1;
            if incoming[*to] == 0 {
                queue.push_back(*to);
            }
        }
    }

    let mut schedule = Schedule {
        stuck: spans
            .iter()
            .enumerate()
            .filter(|(i, _)| !visited[i * 2] || !visited[i * 2 + 1])
            .map(|(_, s)| s.id)
            .collect(),
        ..Schedule::default()
    };
    for (i, span) in spans.iter().enumerate() {
        if visited[i * 2] && visited[i * 2 + 1] {
            schedule
                .times
                .insert(span.id, (time[i * 2], time[i * 2 + 1]));
        }
    }
    let Some(&root_slot) = slot.get(&root) else {
        return schedule;
    };
    let end = root_slot * 2 + 1;
    if !visited[end] {
        return schedule;
    }
    schedule.length_ms = time[end];
    let mut path = vec![end];
    while let Some(previous) = path.last().and_then(|e| before[*e]) {
        path.push(previous);
    }
    path.reverse();
    for pair in path.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let (from_task, to_task) = (spans[from / 2].id, spans[to / 2].id);
        let leaf_work = from / 2 == to / 2 && from % 2 == 0 && spans[from / 2].work_ms > 0;
        if leaf_work {
            schedule.critical_path.push(from_task);
        }
        let dependency = from % 2 == 1 && to % 2 == 0 && from / 2 != to / 2;
        if dependency && spans[to / 2].depends_on.contains(&from_task) {
            schedule.critical_edges.insert((from_task, to_task));
        }
    }
    schedule.on_path = path.iter().map(|e| spans[e / 2].id).collect();
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: i64, parent: Option<i64>, depends_on: &[i64], work_ms: i64) -> Span {
        Span {
            id,
            parent,
            depends_on: depends_on.to_vec(),
            work_ms,
        }
    }

    #[test]
    fn the_longest_chain_of_dependencies_decides_the_finish() {
        // 1 is the root; 2 → 4 (5 + 1) and 3 → 4 (2 + 1): the 2 → 4 chain is critical.
        let spans = [
            span(1, None, &[], 0),
            span(2, Some(1), &[], 5),
            span(3, Some(1), &[], 2),
            span(4, Some(1), &[2, 3], 1),
        ];
        let s = schedule(&spans, 1);
        assert_eq!(s.critical_path, vec![2, 4]);
        assert_eq!(s.length_ms, 6);
        assert_eq!(s.times[&3], (0, 2));
        assert_eq!(s.times[&4], (5, 6));
        assert!(s.critical_edges.contains(&(2, 4)));
        assert!(!s.critical_edges.contains(&(3, 4)));
        assert_eq!(s.on_path, BTreeSet::from([1, 2, 4]));
        assert!(s.stuck.is_empty());
    }

    #[test]
    fn a_container_spans_its_children_and_its_dependents_wait_for_all_of_them() {
        // 2 (a container of 3 and 4) then 5; 4 is long, so the path runs through it.
        let spans = [
            span(1, None, &[], 0),
            span(2, Some(1), &[], 0),
            span(3, Some(2), &[], 1),
            span(4, Some(2), &[], 7),
            span(5, Some(1), &[2], 2),
        ];
        let s = schedule(&spans, 1);
        assert_eq!(s.critical_path, vec![4, 5]);
        assert_eq!(s.times[&2], (0, 7));
        assert_eq!(s.times[&5], (7, 9));
        assert!(s.critical_edges.contains(&(2, 5)));
        assert!(s.on_path.contains(&2));
    }

    #[test]
    fn a_child_waiting_on_its_parent_is_stuck_and_the_rest_still_schedules() {
        let spans = [
            span(1, None, &[], 0),
            span(2, Some(1), &[], 3),
            span(3, Some(1), &[], 0),
            span(4, Some(3), &[3], 1),
        ];
        let s = schedule(&spans, 1);
        assert_eq!(s.stuck, vec![1, 3, 4]);
        assert_eq!(s.times[&2], (0, 3));
        assert!(s.critical_path.is_empty());
    }

    #[test]
    fn dependencies_outside_the_plan_are_ignored_and_an_absent_root_gives_no_path() {
        let spans = [span(1, None, &[99], 4)];
        assert_eq!(schedule(&spans, 1).critical_path, vec![1]);
        assert_eq!(schedule(&spans, 7).critical_path, Vec::<i64>::new());
    }
}
