mod deploy;
mod health;
mod history;
mod lock;
