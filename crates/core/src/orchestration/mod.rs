//! Orchestration: running a task subtree by itself. Durable jobs with leases ([`jobs`]), the
//! scheduler's bookkeeping of ready tasks ([`bookkeeping`]), the worker threads that drain the
//! queue ([`workers`]) and the commands that start, show, stop and work an orchestration
//! ([`commands`]).

pub mod bookkeeping;
pub mod commands;
pub mod jobs;
pub mod task_run;
pub mod workers;
