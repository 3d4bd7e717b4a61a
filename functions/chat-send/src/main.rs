fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run_timed(chat_send::Sender::from_env, chat_send::handle)
}
