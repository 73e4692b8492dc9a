mod errors;
mod exposition;
mod golden;
mod hung_mounts;
mod live;
mod sampler;
pub(crate) mod util;
