mod burst;
mod lines;
mod streams;
pub(crate) mod util;
