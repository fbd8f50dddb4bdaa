fn main() {
    println!("rt: skeleton");
}
