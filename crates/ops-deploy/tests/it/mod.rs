mod docker;
mod health;
mod history;
mod lock;
mod process;
mod state;
mod suite;
