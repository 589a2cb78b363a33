mod util;

mod ai;
mod config;
mod late;
mod memory;
mod policies;
mod unit;
