use crate::components::Factory;
pub fn factory() -> Factory { todo!() }
