const fs = require("fs");
const axios = require("axios");

async function uploadFile(signedUrl, filePath) {
  try {
    const fileStream = fs.createReadStream(filePath);
    const response = await axios.put(signedUrl, fileStream, {
      headers: {
        "Content-Type": "application/octet-stream",
      },
    });

    console.log("File uploaded successfully:", response.status);
  } catch (error) {
    console.error("Failed to upload file:", error);
  }
}

// Usage
uploadFile("your-signed-url-here", "path-to-your-file");
