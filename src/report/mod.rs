//! Reports: PNG figures.

pub mod png;
pub mod table;
