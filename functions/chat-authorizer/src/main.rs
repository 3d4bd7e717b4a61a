fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run_authorizer_async(
        chat_authorizer::SigningKey::from_env,
        chat_authorizer::handle,
    )
}
