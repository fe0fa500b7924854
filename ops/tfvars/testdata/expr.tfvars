scalardl = {
  blue_image_tag = local.tag
}
