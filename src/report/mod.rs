//! Reports: PNG figures (image grids and line charts) and tables.

pub mod canvas;
pub mod chart;
pub mod grid;
pub mod table;
