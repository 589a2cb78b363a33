//! Extensions: components outside the data path.

mod file_storage;
mod health_check;

use crate::components::Factory;

pub fn factories() -> Vec<Factory> {
    vec![health_check::factory(), file_storage::factory()]
}
