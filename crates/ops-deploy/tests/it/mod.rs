mod health;
mod history;
mod lock;
