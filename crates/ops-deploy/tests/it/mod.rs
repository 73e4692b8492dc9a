mod docker;
mod fakes;
mod health;
mod history;
mod lock;
mod process;
mod state;
mod suite;
