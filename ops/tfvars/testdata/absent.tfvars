region = "ap-northeast-1"

scalardl = {
    blue_resource_count = "3"
    // green stays at the module default
}
