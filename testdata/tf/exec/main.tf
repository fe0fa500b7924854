# A network root with outputs only: no providers, so `terraform init` and
# `terraform apply` work offline. The inventory tests apply it into a temporary
# copy and read the result through terraform-exec (`terraform state pull`),
# proving that path against a real terraform binary.
#
# The outputs are those of scalar-terraform-examples' aws/network root
# (output.tf), plus bastion_port, a scalar-tui extension for the lab and demo.

terraform {
  required_version = ">= 0.14"
}

variable "bastion_ip" {
  type    = string
  default = "13.231.179.116"
}

locals {
  network_name    = "example-exec-7q2m4kd"
  internal_domain = "internal.scalar-labs.com"
}

output "bastion_ip" {
  value = var.bastion_ip
}

output "bastion_port" {
  value = 2222
}

output "user_name" {
  value = "centos"
}

output "private_key_path" {
  value = "/home/scalar/scalar-terraform-examples/aws/network/example_key"
}

output "internal_domain" {
  value = local.internal_domain
}

output "network_name" {
  value = local.network_name
}

output "network_cidr" {
  value = "10.42.0.0/16"
}

output "network_dns" {
  value = "Z08111302BU37G0O8OMMY"
}

output "region" {
  value = "ap-northeast-1"
}

output "locations" {
  value = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
}

output "bastion_provision_id" {
  value = "9139872180792820156"
}

output "inventory_ini" {
  value = <<-EOT
    [bastion]
    ${var.bastion_ip}

    [all:vars]
    internal_domain=${local.internal_domain}
    base=default
    cloud_provider=aws
    ansible_user=centos
  EOT
}
