fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run(
        shared::connections::Connections::from_env,
        chat_connect::handle,
    )
}
