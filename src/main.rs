fn main() { println!("aiotel"); }
