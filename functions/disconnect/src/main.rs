fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run(|| Ok(()), |request, ()| disconnect::handle(request))
}
