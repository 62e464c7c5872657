"""Looking into networks: a trained run on new images, feature maps and Grad-CAM, one part looked
into, and the measured arguments of the Why residuals? page."""
