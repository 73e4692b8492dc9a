mod burst;
mod compose;
mod files;
mod lines;
mod streams;
pub(crate) mod util;
