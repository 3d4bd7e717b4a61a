fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run_authorizer(authorizer::Tokens::from_env, authorizer::handle)
}
