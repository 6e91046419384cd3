//! Mallard: a dbt-compatible transformation runner on embedded DuckDB.
//!
//! Data flows one way through the modules: files ([`project`]) -> rendered nodes
//! ([`templating`], [`manifest`]) -> graph ([`graph`]) -> schedule ([`runner`]) -> DuckDB
//! ([`adapter`], [`materialization`], [`testing`]) -> results ([`artifacts`]). [`cli`] wires
//! the phases together for each command.

pub mod adapter;
pub mod analysis;
pub mod artifacts;
pub mod cli;
pub mod compile;
pub mod config;
pub mod deps;
pub mod error;
pub mod graph;
pub mod log;
pub mod manifest;
pub mod materialization;
pub mod project;
pub mod relation;
pub mod runner;
pub mod session;
pub mod sql;
pub mod templating;
pub mod testing;
