scalardl = {
  "blue_resource_count" = "3",
  "blue_image_tag"      = "2.1.0",
}
