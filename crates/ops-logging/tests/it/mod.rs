mod burst;
mod compose;
mod files;
mod lines;
mod redaction;
mod streams;
pub(crate) mod util;
