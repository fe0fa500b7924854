package vm

import "context"

// TagCandidate is one image tag the upgrade picker offers.
type TagCandidate struct {
	// Tag is the image tag ("2.2.0").
	Tag string
	// Running is set when some node of the colour runs this tag now.
	Running bool
	// InState is set when Terraform state records this tag for the colour.
	InState bool
	// Missing are the short names of the colour's nodes that have not
	// loaded the image (the upgrade needs a tarball or a pull for them).
	Missing []string
}

// TagLister lists the tags an upgrade of a colour can go to. Backends that
// cannot simply omit it; the console then asks for the tag as free text.
type TagLister interface {
	UpgradeTags(ctx context.Context, color string) ([]TagCandidate, error)
}
