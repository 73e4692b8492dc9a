mod deploy;
mod docker;
mod health;
mod history;
mod lock;
