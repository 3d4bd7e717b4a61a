fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run(shared::delivery::Replier::from_env, echo::handle)
}
