fn main() -> Result<(), shared::entry::Error> {
    shared::entry::run(|| Ok(()), |request, ()| connect::handle(request))
}
